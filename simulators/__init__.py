"""The simulated observatory: sky renderer, INDI devices, PHD2 and a gsc shim.

Shipped in the same distribution as ``astroiqa_indi`` so ``astroiqa-indi simulate``
works after ``pip install``. Production code in ``astroiqa_indi`` imports from here
only inside the ``simulate`` and ``demo`` commands.
"""
