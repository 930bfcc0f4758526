"""The run modes: ``scan`` (capture files) and ``sniff`` (live interfaces) compose a source, the
engine and the output stage. The command line (``cli``) is the only layer above them.
"""
