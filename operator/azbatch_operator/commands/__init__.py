"""One module per `azbatch-operator` sub-command; each has `add_arguments(parser)` and `run(args) -> int`."""
