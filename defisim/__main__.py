"""``python -m defisim``: the same as the ``defisim`` command."""
from .cli import main

raise SystemExit(main())
