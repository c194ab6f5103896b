"""Runtime node kinds, one module per family; each registers its kinds with ``@register``."""
