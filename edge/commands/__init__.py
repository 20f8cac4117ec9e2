"""edge's own subcommands; each module defines ``register(subparsers)``."""
