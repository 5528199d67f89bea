"""The reference SDK's ``gait.models`` module path; the code lives in ``gait.compat.models``.

This module replaces itself with that one, so monkeypatching or reloading ``gait.models``
acts on the implementation (as code written for the reference SDK expects).
"""

import sys

from gait.compat import models as _impl

sys.modules[__name__] = _impl
