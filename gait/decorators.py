"""The reference SDK's ``gait.decorators`` module path; the code is in ``gait.compat.decorators``.

This module replaces itself with that one, so monkeypatching or reloading ``gait.decorators``
acts on the implementation (as code written for the reference SDK expects).
"""

import sys

from gait.compat import decorators as _impl

sys.modules[__name__] = _impl
