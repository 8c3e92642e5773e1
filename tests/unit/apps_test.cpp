// dissectors/apps: the domain-suffix -> application table (docs/apps.md).
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "dissectors/apps/apps.h"

using flowscribe::dissect::AppDb;

namespace {

std::shared_ptr<const AppDb> builtin() {
  auto db = AppDb::load({});
  REQUIRE(db.ok());
  return *db;
}

std::string app_of(const AppDb& db, std::string_view host) {
  return std::string(db.name(db.lookup(host)));
}

}  // namespace

TEST_CASE("apps: the applications the issue names are in the built-in table", "[apps]") {
  auto db = builtin();
  const std::pair<const char*, const char*> cases[] = {
      {"twitter.com", "twitter"},           {"abs.twimg.com", "twitter"},
      {"x.com", "twitter"},                 {"www.linkedin.com", "linkedin"},
      {"www.dropbox.com", "dropbox"},       {"edge-star-mini-shv-01-ams4.facebook.com", "facebook"},
      {"scontent.cdninstagram.com", "instagram"}, {"r3---sn-4g5e6nze.googlevideo.com", "youtube"},
      {"www.youtube.com", "youtube"},       {"mail.google.com", "gmail"},
      {"www.google.com", "google"},         {"teams.microsoft.com", "ms-teams"},
      {"outlook.office365.com", "ms-outlook"}, {"contoso-my.sharepoint.com", "sharepoint"},
      {"onedrive.live.com", "onedrive"},    {"app.slack.com", "slack"},
      {"us02web.zoom.us", "zoom"},          {"github.com", "github"},
      {"raw.githubusercontent.com", "github"}, {"s3.amazonaws.com", "aws"},
      {"foo.blob.core.windows.net", "azure"}, {"p52-contacts.icloud.com", "icloud"},
      {"web.whatsapp.com", "whatsapp"},     {"telegram.org", "telegram"},
      {"www.netflix.com", "netflix"},       {"ipv4-c001.nflxvideo.net", "netflix"},
      {"www.tiktok.com", "tiktok"},         {"app.box.com", "box"},
      {"wetransfer.com", "wetransfer"},
  };
  for (auto& [host, app] : cases) {
    INFO(host);
    CHECK(app_of(*db, host) == app);
  }
  CHECK(db->application_count() >= 40);
  CHECK(db->category(db->lookup("www.youtube.com")) == "video");
}

TEST_CASE("apps: suffixes match whole labels, longest first, any case, trailing dot", "[apps]") {
  auto db = builtin();
  CHECK(app_of(*db, "notyoutube.com").empty());       // not a label boundary
  CHECK(app_of(*db, "youtube.com.evil.example").empty());
  CHECK(app_of(*db, "WWW.YouTube.COM") == "youtube");
  CHECK(app_of(*db, "www.youtube.com.") == "youtube");
  CHECK(app_of(*db, "drive.google.com") == "google-drive");  // longer suffix beats google.com
  CHECK(app_of(*db, "google.com") == "google");
  CHECK(app_of(*db, "").empty());
  CHECK(app_of(*db, ".").empty());
  CHECK(app_of(*db, "com").empty());
  CHECK(app_of(*db, std::string(300, 'a')).empty());   // longer than a DNS name: no lookup
  CHECK(app_of(*db, std::string_view("you\0tube.com", 12)).empty());
  CHECK(db->name(0).empty());
  CHECK(db->name(60000).empty());
}

TEST_CASE("apps: user files add and override; bad lines name file and line", "[apps]") {
  const std::string path = "apps_test_user.txt";
  {
    std::ofstream f(path);
    f << "# our own\n"
         "intranet.example   intranet   business\n"
         "youtube.com        video-ok   video   # override the built-in line\n"
         "\n";
  }
  auto db = AppDb::load({path});
  REQUIRE(db.ok());
  CHECK(app_of(**db, "wiki.intranet.example") == "intranet");
  CHECK(app_of(**db, "www.youtube.com") == "video-ok");
  CHECK(app_of(**db, "i.ytimg.com") == "youtube");  // other youtube suffixes keep theirs

  {
    std::ofstream f(path);
    f << "ok.example a b\n"
         "bad..example app cat\n";
  }
  auto bad = AppDb::load({path});
  REQUIRE(!bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains(path + ":2:"));
  {
    std::ofstream f(path);
    f << "two.fields only\n";
  }
  bad = AppDb::load({path});
  REQUIRE(!bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains(":1: expected three fields"));
  {
    std::ofstream f(path);
    f << "ok.example Upper cat\n";
  }
  CHECK(!AppDb::load({path}).ok());
  CHECK(!AppDb::load({"/nonexistent/apps.txt"}).ok());
  std::remove(path.c_str());
}
