"""tick"""
