import sys

from azbatch_operator.cli import main

sys.exit(main())
