"""Calls the hub makes on someone's behalf: the network policy, pooled sessions, deadlines."""
