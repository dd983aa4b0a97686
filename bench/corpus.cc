// Copyright kabar authors.
#include "bench/corpus.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace kabar::bench {
namespace {

struct Sentence {
  std::string lang;
  std::string category;
  std::string text;
};

// Raw generator output only: std:: distributions differ between standard
// libraries, and the corpus must not.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n). REQUIRES: n > 0.
  size_t Below(size_t n) { return engine_() % n; }
  // Uniform in [0, 1).
  double Unit() { return (engine_() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  std::mt19937_64 engine_;
};

absl::StatusOr<std::vector<Sentence>> ReadSentences(const std::string& path) {
  std::ifstream in(path);
  if (!in.is_open())
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<Sentence> sentences;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 3 || fields[2].empty()) continue;
    sentences.push_back(
        {std::move(fields[0]), std::move(fields[1]), std::move(fields[2])});
  }
  if (sentences.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " has no lang<TAB>category<TAB>text rows"));
  }
  return sentences;
}

// The first `max_words` words of `text`.
std::string Headline(const std::string& text, size_t max_words) {
  std::vector<absl::string_view> words =
      absl::StrSplit(text, ' ', absl::SkipEmpty());
  if (words.size() > max_words) words.resize(max_words);
  return absl::StrJoin(words, " ");
}

std::string StringField(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

absl::StatusOr<std::vector<Article>> GenerateCorpus(
    const CorpusOptions& options) {
  if (options.num_articles < 0 || options.article_bytes < 1 ||
      options.mixed_fraction < 0 || options.mixed_fraction > 1) {
    return absl::InvalidArgumentError(
        "need num_articles >= 0, article_bytes >= 1, mixed_fraction in [0,1]");
  }
  auto sentences = ReadSentences(options.sentences_path);
  if (!sentences.ok()) return sentences.status();

  // Indices by language and by (language, category); std::map keeps the
  // order, and so the corpus, independent of hashing.
  std::map<std::string, std::vector<size_t>> by_lang;
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> by_topic;
  for (size_t i = 0; i < sentences->size(); ++i) {
    const Sentence& s = (*sentences)[i];
    by_lang[s.lang].push_back(i);
    by_topic[{s.lang, s.category}].push_back(i);
  }

  std::vector<std::pair<std::string, double>> mix;
  if (options.languages.empty()) {
    for (const auto& [lang, unused] : by_lang) mix.emplace_back(lang, 1.0);
  } else {
    for (absl::string_view item :
         absl::StrSplit(options.languages, ',', absl::SkipWhitespace())) {
      std::pair<absl::string_view, absl::string_view> parts =
          absl::StrSplit(item, absl::MaxSplits(':', 1));
      double weight = 1.0;
      if (!parts.second.empty() &&
          (!absl::SimpleAtod(parts.second, &weight) || weight <= 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad weight in language mix: ", item));
      }
      const std::string lang(absl::StripAsciiWhitespace(parts.first));
      if (by_lang.count(lang) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "language ", lang, " is not in ", options.sentences_path));
      }
      mix.emplace_back(lang, weight);
    }
  }
  double total_weight = 0;
  for (const auto& [lang, weight] : mix) total_weight += weight;
  Random random(options.seed);
  const auto pick_lang = [&]() -> const std::string& {
    double x = random.Unit() * total_weight;
    for (const auto& [lang, weight] : mix) {
      if ((x -= weight) < 0) return lang;
    }
    return mix.back().first;
  };
  const auto pick = [&](const std::vector<size_t>& pool) -> const Sentence& {
    return (*sentences)[pool[random.Below(pool.size())]];
  };

  std::vector<Article> articles;
  articles.reserve(options.num_articles);
  for (int a = 0; a < options.num_articles; ++a) {
    Article article;
    article.url =
        absl::StrCat("https://bench.example.org/", options.seed, "/", a);
    article.lang = pick_lang();
    const std::vector<size_t>& lang_pool = by_lang[article.lang];
    article.category = pick(lang_pool).category;
    const std::vector<size_t>& topic_pool =
        by_topic[{article.lang, article.category}];
    const bool mixed = random.Unit() < options.mixed_fraction;
    const std::string& second = mixed ? pick_lang() : article.lang;
    // Keep to the category while it has a few sentences to offer.
    const std::vector<size_t>& main_pool =
        topic_pool.size() >= 8 ? topic_pool : lang_pool;

    article.title = Headline(pick(main_pool).text, 14);
    const size_t target =
        static_cast<size_t>(options.article_bytes * (0.5 + random.Unit()));
    std::vector<std::string> paragraphs;
    size_t size = 0;
    while (size < target) {
      const size_t count = 1 + random.Below(4);
      std::vector<absl::string_view> paragraph;
      for (size_t i = 0; i < count && size < target; ++i) {
        const bool foreign = mixed && random.Unit() < 0.3;
        const Sentence& s = pick(foreign ? by_lang[second] : main_pool);
        paragraph.push_back(s.text);
        size += s.text.size() + 1;
      }
      paragraphs.push_back(absl::StrJoin(paragraph, " "));
    }
    article.body = absl::StrJoin(paragraphs, "\n\n");
    articles.push_back(std::move(article));
  }
  return articles;
}

absl::StatusOr<std::vector<Article>> ReadJsonLines(const std::string& path) {
  std::ifstream in(path);
  if (!in.is_open())
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<Article> articles;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const nlohmann::json object =
        nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!object.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": not a JSON object"));
    }
    Article article;
    article.url = StringField(object, "url");
    article.title = StringField(object, "title");
    article.body = StringField(object, "body");
    if (article.body.empty()) article.body = StringField(object, "text");
    if (article.body.empty()) article.body = StringField(object, "content");
    article.lang = StringField(object, "lang");
    article.category = StringField(object, "category");
    if (const auto metadata = object.find("metadata");
        metadata != object.end() && metadata->is_object()) {
      for (const char* key : {"bench_lang", "lang_hint"}) {
        if (article.lang.empty()) article.lang = StringField(*metadata, key);
      }
      for (const char* key : {"bench_category", "topic"}) {
        if (article.category.empty()) {
          article.category = StringField(*metadata, key);
        }
      }
    }
    articles.push_back(std::move(article));
  }
  return articles;
}

absl::Status WriteJsonLines(const std::vector<Article>& articles,
                            const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  if (!out.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot write ", path));
  }
  for (const Article& article : articles) {
    nlohmann::json object = {
        {"url", article.url},
        {"source", "kabar-bench"},
        {"title", article.title},
        {"body", article.body},
        {"metadata",
         {{"bench_lang", article.lang}, {"bench_category", article.category}}},
    };
    out << object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  }
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

size_t TextBytes(const std::vector<Article>& articles) {
  size_t bytes = 0;
  for (const Article& article : articles) {
    bytes += article.title.size() + article.body.size();
  }
  return bytes;
}

}  // namespace kabar::bench
