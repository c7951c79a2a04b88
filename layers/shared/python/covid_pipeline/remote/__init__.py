"""The CLI's commands against a deployed stack (``--stack NAME``): the same commands as locally, with every
resource name taken from the stack's outputs (adapters/aws/stack.py)."""
