"""Connections: the credentials a principal holds for an integration, and connecting them."""
