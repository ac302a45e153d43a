"""The pieces of `lambda-rie bench`: what to start, how to measure, and how to show the result."""
