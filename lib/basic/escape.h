/* Quoting for the places a person copies text into a shell: printed commands and fixes. */
#pragma once

/* s quoted for a POSIX shell only when it needs it ('it'\''s'); NULL on allocation failure. */
char *shell_quote(const char *s);
