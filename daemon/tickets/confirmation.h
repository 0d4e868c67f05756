// confirmation.h — the customer's confirmation of a solution (seed 001 "Avisado" → "Confirmado"):
// whether the new part of a customer's reply approves it, by the phrases of [confirmation] in any
// locale, compared without case, accents or punctuation. Pure functions; never sees the quoted
// history (the caller passes the new part only, and quoted "> " lines are skipped here too).
#pragma once

#include <string>

#include "daemon/config/config.h"

namespace atendd {

// Lower case, common Latin accents removed, every run of punctuation and blanks one space, no
// leading or trailing space: "Ok, RESOLVIDO!" → "ok resolvido", "Obrigada, funcionou." →
// "obrigada funcionou".
std::string normalise_phrase(const std::string& text);

// The configured phrase (as written in the config) that `new_text` approves the solution with,
// or "" when none does. A phrase counts only as whole words and not right after a negation
// ("não pode fechar", "can't … ", "not solved").
std::string approval_phrase(const std::string& new_text, const ConfirmationConfig& confirmation);

}  // namespace atendd
