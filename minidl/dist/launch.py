"""`python -m minidl.dist.launch -n 4 script.py [args ...]`: see `minidl.dist.launcher`."""
import sys

from minidl.dist.launcher import main

if __name__ == "__main__":
    sys.exit(main())
