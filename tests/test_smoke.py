def test_track_is_stored(send, workspace):
    response = send.post("track", {"userId": "u1", "event": "Signed Up", "messageId": "m1"})
    assert response.status_code == 200, response.json()
    assert response.json()["stored"] == 1
