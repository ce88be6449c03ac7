"""Subcommand implementations behind the command line."""
