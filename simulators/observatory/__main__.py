"""``python -m simulators.observatory``: the INDI driver (what indiserver runs)."""

from simulators.observatory._driver import main

raise SystemExit(main())
