"""alerting/handlers"""
