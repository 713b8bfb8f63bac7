"""A short meeting that has one of everything Analyze finds, shared by its tests."""

MEETING = """Ann: Good morning, let's start with the release plan for the mobile app.
Bob: The mobile release is blocked by the login bug on older phones.
Ann: When will the login bug be fixed?
Bob: The login bug will be fixed on Thursday, the patch is in review.
Ann: Good. We decided to ship the mobile release next Monday.
Cara: I'll update the release notes by Friday.
Ann: Bob, can you send the test report to the client?
Bob: Sure, I will send it tomorrow.
Cara: What about the budget for the marketing campaign next quarter?
Ann: Let's talk about the office move now.
Bob: The movers come in two weeks and the new office has twenty desks.
"""
