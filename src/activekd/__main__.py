import sys

from activekd.cli import main

sys.exit(main())
