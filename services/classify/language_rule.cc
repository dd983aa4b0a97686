// Copyright kabar authors.
#include "services/classify/language_rule.h"

#include <algorithm>

namespace kabar::classify {

LanguageDecision CombineLanguages(const LanguageGuess& lid,
                                  const LanguageGuess& kabar,
                                  const LanguageRuleOptions& options) {
  const auto sure = [&](const LanguageGuess& guess) {
    return !guess.code.empty() && guess.confidence >= options.min_confidence;
  };
  const auto pick = [](const LanguageGuess& guess, LanguageSource source) {
    return LanguageDecision{guess.code, guess.confidence, source};
  };
  if (lid.code == kabar.code && (sure(lid) || sure(kabar))) {
    return {lid.code, std::max(lid.confidence, kabar.confidence),
            LanguageSource::kBoth};
  }
  if (sure(kabar) && !kabar.other_knows) {
    return pick(kabar, LanguageSource::kKabar);
  }
  if (sure(lid) && !lid.other_knows) return pick(lid, LanguageSource::kLid);
  const bool trusted = options.lid_trusted_codes.empty() ||
                       options.lid_trusted_codes.contains(lid.code);
  if (sure(lid) && trusted && lid.confidence >= options.lid_trust_confidence &&
      kabar.confidence < options.kabar_override_confidence) {
    return pick(lid, LanguageSource::kLid);
  }
  if (sure(kabar)) return pick(kabar, LanguageSource::kKabar);
  if (sure(lid)) return pick(lid, LanguageSource::kLid);
  return {"", std::max(lid.confidence, kabar.confidence),
          LanguageSource::kNone};
}

}  // namespace kabar::classify
