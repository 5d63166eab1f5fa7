//! The HTTP conformance suite against `testproject-rocket`.
maintenance_tests::http_conformance_tests!(maintenance_tests::http::Server::Rocket);
