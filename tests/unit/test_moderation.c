/*
 * test_moderation.c - the pure parts of moderation: which frames of an
 * animation are classified, and when delivery may serve every frame.
 */
#include "moderation/moderation.h"

#include "t.h"

static void run(void)
{
	T_CASE("every frame up to the budget") {
		int idx[8];

		T_EQ(px_moderation_frames_select(NULL, 5, 8, idx), 5);
		for (int i = 0; i < 5; i++)
			T_EQ(idx[i], i);
	}
	T_CASE("beyond it: an even sample plus the biggest changes") {
		double change[100];
		int idx[100], n;
		bool seen37 = false, seen58 = false;

		for (int i = 0; i < 100; i++)
			change[i] = 0.01;
		change[37] = 0.9;
		change[58] = 0.8;
		n = px_moderation_frames_select(change, 100, 10, idx);
		T_EQ(n, 10);
		T_EQ(idx[0], 0);
		T_EQ(idx[n - 1], 99);
		for (int i = 1; i < n; i++)
			T_OK(idx[i] > idx[i - 1]);
		for (int i = 0; i < n; i++) {
			seen37 |= idx[i] == 37;
			seen58 |= idx[i] == 58;
		}
		T_OK(seen37);
		T_OK(seen58);
	}
	T_CASE("a budget of one still checks the first and the last frame") {
		double change[4] = {1, 0, 0, 0};
		int idx[4];

		T_EQ(px_moderation_frames_select(change, 4, 1, idx), 2);
		T_EQ(idx[0], 0);
		T_EQ(idx[1], 3);
	}
	T_CASE("coverage as delivery reads it") {
		struct px_image_rec rec;

		memset(&rec, 0, sizeof(rec));
		T_OK(px_moderation_frames_covered(&rec));
		rec.moderation = "{\"frames\":{\"total\":4,\"checked\":4,\"complete\":true}}";
		T_OK(px_moderation_frames_covered(&rec));
		rec.moderation = "{\"frames\":{\"total\":40,\"checked\":32,\"complete\":false}}";
		T_OK(!px_moderation_frames_covered(&rec));
		rec.moderation = "{\"verdict\":\"approve\"}";
		T_OK(px_moderation_frames_covered(&rec));
	}
}
