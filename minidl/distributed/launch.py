"""`python -m minidl.distributed.launch -n 4 script.py [args ...]`: see `minidl.distributed.launcher`."""
import sys

from minidl.distributed.launcher import main

if __name__ == "__main__":
    sys.exit(main())
