"""Small pieces every ktrack package shares: how programs report errors and warnings, what counts as a number."""
