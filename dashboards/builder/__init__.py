"""The table builder's parts: ``form`` (the controls' values ⇄ a query document, the
permalink and the API call; pure), ``plan`` (the caller's grant, the size check and the
result, through the one query code path), ``deliver`` (the file through the existing
delivery channels) and ``view`` (the preview table). The page is ``dashboards.pages.builder``.
"""
