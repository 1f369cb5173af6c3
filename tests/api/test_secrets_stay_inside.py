"""Passwords and API tokens never appear in any answer or log line."""

import logging


def test_no_secret_in_any_answer_or_log(client, admin, caplog):
    caplog.set_level(logging.DEBUG)
    password = "Sup3r-secret-passphrase"
    answers = [client.post("/api/users", headers=admin.headers, json={
        "username": "sam", "password": password, "email": "sam@example.com"})]
    answers.append(client.post("/api/login", json={"username": "sam", "password": password}))
    csrf = answers[-1].get_json()["csrfToken"]
    issued = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    token = issued.get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    for path in ("/api", "/api/me", "/api/users", "/api/users/sam", "/api/tokens",
                 f"/api/tokens/{issued.get_json()['id']}", "/api/teams", "/api/tenant"):
        answers.append(client.get(path, headers=bearer))
    answers.append(client.post("/api/login", json={"username": "sam", "password": password + "x"}))
    answers.append(client.get("/api/me", headers={"Authorization": f"Bearer {token}x"}))
    answers.append(client.put("/api/users/sam", headers=admin.headers,
                              json={"password": password + "2", "email": "bad"}))

    for answer in answers:
        body = answer.get_data(as_text=True)
        headers = str(answer.headers)
        assert password not in body and password not in headers, answer.request.path
        assert token not in body and token not in headers, answer.request.path
    assert password not in caplog.text and token not in caplog.text
