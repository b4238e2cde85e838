"""Training, building and measuring the classifier: the corpus, the adapter and head, the
ONNX build, evaluation and the label review. It needs the `[train]` extra (scikit-learn,
torch, matplotlib); run time (`classify/`) never imports it."""
