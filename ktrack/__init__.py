"""Small pieces every ktrack package shares: how programs report errors and warnings."""
