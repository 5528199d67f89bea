"""The reference SDK's ``gait.langchain`` module path; the code lives in ``gait.compat.langchain``.

This module replaces itself with that one, so monkeypatching or reloading ``gait.langchain``
acts on the implementation (as code written for the reference SDK expects).
"""

import sys

from gait.compat import langchain as _impl

sys.modules[__name__] = _impl
