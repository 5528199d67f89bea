"""The reference SDK's ``gait.client`` module path; the code lives in ``gait.compat.client``.

This module replaces itself with that one, so monkeypatching or reloading ``gait.client``
acts on the implementation (as code written for the reference SDK expects).
"""

import sys

from gait.compat import client as _impl

sys.modules[__name__] = _impl
