"""Official documents (issue 15): each request rendered as a PDF/A-3 in a language the other side
accepts (CETS224 Art 4), sealed by the node (the request embedded and signed) and verifiable offline."""
