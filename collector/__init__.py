"""Receivers: parse and validate what model servers send; never compute statistics."""
