"""The reference SDK's ``gait.session`` module path; the code lives in ``gait.compat.session``.

This module replaces itself with that one, so monkeypatching or reloading ``gait.session``
acts on the implementation (as code written for the reference SDK expects).
"""

import sys

from gait.compat import session as _impl

sys.modules[__name__] = _impl
