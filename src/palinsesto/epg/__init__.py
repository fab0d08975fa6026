"""The programme guide (EPG): XMLTV import, channel matching, creators' schedules,
retention, and the :class:`~palinsesto.playback.guide.Guide` that serves it."""
