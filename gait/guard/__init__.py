"""Guard: evidence packs for the compliance lead and the incident review.

An evidence pack (``evidence_pack_<pack_id>.zip``) gathers what a reviewer needs about one run:
summaries of the runpack, its gate traces, regress results, approval audits, credential
evidence and inventory snapshots, mapped to the controls of a template (SOC 2, PCI, incident
response), plus (ours) the runpack and trace files themselves so each can be re-verified, and a
rendered report (PDF, HTML). Its manifest is the reference's ``gait.guard.pack_manifest``.
"""
