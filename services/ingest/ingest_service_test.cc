// Copyright kabar authors.
#include "services/ingest/ingest_service.h"

#include "gtest/gtest.h"

namespace kabar::ingest {
namespace {

TEST(IngestServiceTest, ClientIsThePeerAddressWithoutItsPort) {
  EXPECT_EQ(IngestServiceImpl::ClientOf("ipv4:127.0.0.1:51234"), "ipv4:127.0.0.1");
  EXPECT_EQ(IngestServiceImpl::ClientOf("ipv6:[::1]:51234"), "ipv6:[::1]");
  EXPECT_EQ(IngestServiceImpl::ClientOf("unix:/run/kabar.sock"), "unix:/run/kabar.sock");
  EXPECT_EQ(IngestServiceImpl::ClientOf(""), "");
}

}  // namespace
}  // namespace kabar::ingest
