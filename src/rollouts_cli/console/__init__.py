"""The rollouts console: web pages that show a control plane's rollouts live.

``rollouts local up`` serves it beside the local engine (buttons act), and
``rollouts console`` beside a deployed stack, with the caller's credentials
(buttons only with ``--allow-actions``). ``pages`` decides what a page shows
(pure), ``source`` reads it, ``app`` serves it (Flask), ``server`` runs it in a
thread on 127.0.0.1. The browser libraries (Chart.js, Cytoscape.js with its dagre
layout) ship in ``static/vendor``: no network at run time.
"""
