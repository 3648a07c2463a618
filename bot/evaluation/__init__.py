"""Evaluation of retrieval and answers on question sets (RealTimeQA format)."""
