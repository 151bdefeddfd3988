"""Answering queries: keyword and vector retrieval, fusion, code lookup and filters."""
