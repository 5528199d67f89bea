"""PackSpec v1 packs (``pack_<pack_id>.zip``) and the evidence built on them.

A pack wraps evidence the v1 tools already verify (a runpack, a gate authorization bundle) in
one more manifest of member digests, so a single file can be handed to someone who verifies it
offline with either this project or the reference implementation.
"""
