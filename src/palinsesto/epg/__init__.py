"""The programme guide (EPG): XMLTV import, channel matching, creators' schedules,
retention, and the :class:`~palinsesto.panel.playback.guide.Guide` that serves it."""
