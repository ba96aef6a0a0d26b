"""Deterministic demo data: generators that write landing files the way producers deliver them."""
