"""Collections, queries, judgments and training examples: readers, the embedded benchmark, the prepared layout."""
