"""``python -m azbatch_kubemock serve --kubeconfig PATH [--crd FILE ...]``."""

import sys

from azbatch_kubemock.cli import main

sys.exit(main())
