"""``python -m defisim``: the same as the ``defisim`` command."""
from defisim.cli import main

raise SystemExit(main())
