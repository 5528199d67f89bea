"""The reference SDK's ``gait.adapter`` module path; the code lives in ``gait.compat.adapter``.

This module replaces itself with that one, so monkeypatching or reloading ``gait.adapter``
acts on the implementation (as code written for the reference SDK expects).
"""

import sys

from gait.compat import adapter as _impl

sys.modules[__name__] = _impl
