# -*- test-case-name: xcomp.test.test_http_site,xcomp.test.test_metrics,xcomp.test.test_http_status -*-
"""
The HTTP port for operations: OpenMetrics at C{/metrics}
(L{xcomp.http.metrics}), and the status page and C{/status.json}
(L{xcomp.http.status}, L{xcomp.http.page}), served by C{twisted.web}
(L{xcomp.http.site}).  It reads the running service and never changes it.
"""

__all__ = ["HTTPService"]

from xcomp.http.site import HTTPService
