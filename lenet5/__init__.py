"""LeNet-5 on scikit-learn's bundled digits: ktrack's second, seconds-long model."""
