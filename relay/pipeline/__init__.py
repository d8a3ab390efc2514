"""The pipeline: one poll of a board and one drain of the delivery queue, as plain steps."""
